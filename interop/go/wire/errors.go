package wire

import "fmt"

// Error is an agentmesh error as it travels in an answer's `error` field: a code from the
// spec (MSG001, SEC001, ...), the class name and a message.
type Error struct {
	Code    string
	Name    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s %s: %s", e.Code, e.Name, e.Message) }

// ToObject is the error's wire form, in the order answers carry it.
func (e *Error) ToObject() *Object {
	return NewObject("code", e.Code, "name", e.Name, "message", e.Message)
}

// ErrorFromObject reads an answer's `error` field.
func ErrorFromObject(v Value) *Error {
	o, ok := v.(*Object)
	if !ok {
		return &Error{Code: "MSG001", Name: "ValidationError", Message: "error field is not an object"}
	}
	get := func(k string) string { s, _ := o.vals[k].(string); return s }
	return &Error{Code: get("code"), Name: get("name"), Message: get("message")}
}

// The errors a peer's bytes can earn, with the codes and names a TypeScript node uses.
func Validation(f string, a ...any) *Error {
	return &Error{"MSG001", "ValidationError", fmt.Sprintf(f, a...)}
}
func Serialization(f string, a ...any) *Error {
	return &Error{"MSG002", "SerializationError", fmt.Sprintf(f, a...)}
}
func UnsupportedVersion(f string, a ...any) *Error {
	return &Error{"MSG002", "UnsupportedVersionError", fmt.Sprintf(f, a...)}
}
func TooLarge(size, limit int) *Error {
	return &Error{"MSG002", "MessageTooLargeError", fmt.Sprintf("message of %d bytes is over the limit of %d bytes", size, limit)}
}
func NotAdmitted(f string, a ...any) *Error {
	return &Error{"SEC001", "NotAdmittedError", fmt.Sprintf(f, a...)}
}
func UnknownCommand(cmd string) *Error {
	return &Error{"CMD001", "UnknownCommandError", fmt.Sprintf("no handler for command %q", cmd)}
}
func HandlerFailed(msg string) *Error { return &Error{"CMD002", "HandlerError", msg} }
func Timeout(f string, a ...any) *Error {
	return &Error{"COM001", "TimeoutError", fmt.Sprintf(f, a...)}
}
