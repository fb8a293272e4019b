package wire

import (
	"crypto/rand"
	"fmt"
	"math"
	"time"
)

// WireJSON is the version byte of an envelope or batch encoded as JSON (version 1).
const WireJSON = 0x01

// EnvelopeVersion is the envelope's own `version` field.
const EnvelopeVersion = 1

// Envelope is an R-MSG envelope kept as the JSON object it travels as, so a decoded envelope
// encodes back to the very bytes it came in and a made one has makeEnvelope's field order:
// version, id, timestamp, source, destination, type, subject, payload, headers, priority,
// then the optional ttl, replyTo, correlationId, conversationId, error, signature.
type Envelope struct{ *Object }

// EnvelopeFields are what NewEnvelope needs; optional ones are left out when zero.
type EnvelopeFields struct {
	ID             string // a fresh UUID when empty
	Timestamp      int64  // now when 0
	Source         string
	Destination    *Object // {peer}, {peers: [...]}, or {topic}
	Type           string  // REQUEST, RESPONSE, EVENT, COMMAND, ...
	Subject        string
	Payload        Value
	Headers        *Object
	Priority       string // "normal" when empty
	TTL            int64
	ReplyTo        string
	CorrelationID  string
	ConversationID string
	Error          *Error
}

// NewEnvelope makes an envelope in the field order a TypeScript node writes.
func NewEnvelope(f EnvelopeFields) Envelope {
	if f.ID == "" {
		f.ID = NewUUID()
	}
	if f.Timestamp == 0 {
		f.Timestamp = time.Now().UnixMilli()
	}
	if f.Headers == nil {
		f.Headers = NewObject()
	}
	if f.Priority == "" {
		f.Priority = "normal"
	}
	o := NewObject("version", float64(EnvelopeVersion), "id", f.ID, "timestamp", float64(f.Timestamp),
		"source", f.Source, "destination", f.Destination, "type", f.Type, "subject", f.Subject,
		"payload", f.Payload, "headers", f.Headers, "priority", f.Priority)
	if f.TTL > 0 {
		o.Set("ttl", float64(f.TTL))
	}
	if f.ReplyTo != "" {
		o.Set("replyTo", f.ReplyTo)
	}
	if f.CorrelationID != "" {
		o.Set("correlationId", f.CorrelationID)
	}
	if f.ConversationID != "" {
		o.Set("conversationId", f.ConversationID)
	}
	if f.Error != nil {
		o.Set("error", f.Error.ToObject())
	}
	return Envelope{o}
}

// NewUUID is a random (version 4) UUID, as envelope ids are.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (e Envelope) str(k string) string { s, _ := e.vals[k].(string); return s }

func (e Envelope) ID() string            { return e.str("id") }
func (e Envelope) Source() string        { return e.str("source") }
func (e Envelope) Type() string          { return e.str("type") }
func (e Envelope) Subject() string       { return e.str("subject") }
func (e Envelope) CorrelationID() string { return e.str("correlationId") }
func (e Envelope) Payload() Value        { return e.vals["payload"] }

// Expired says whether the envelope's ttl ran out by now (a node drops such a request
// unanswered, docs/wire-format.md section 3).
func (e Envelope) Expired(now time.Time) bool {
	ttl, ok := e.vals["ttl"].(float64)
	if !ok {
		return false
	}
	ts, _ := e.vals["timestamp"].(float64)
	return float64(now.UnixMilli()) > ts+ttl
}

// Error is the answer's error, nil when it has none.
func (e Envelope) Error() *Error {
	v, ok := e.vals["error"]
	if !ok || v == nil {
		return nil
	}
	return ErrorFromObject(v)
}

// Topic is destination.topic, "" when the envelope is not for a topic.
func (e Envelope) Topic() string {
	d, _ := e.vals["destination"].(*Object)
	if d == nil {
		return ""
	}
	s, _ := d.vals["topic"].(string)
	return s
}

// Encode is the envelope's wire form: the version byte, then its JSON.
func (e Envelope) Encode() []byte { return append([]byte{WireJSON}, Stringify(e.Object)...) }

// DecodeEnvelope reads an encoded envelope: MSG002 for an unknown wire byte, an empty input or
// text that is not JSON, MSG002 UnsupportedVersionError for an envelope version other than 1,
// MSG001 for an envelope whose fields are not the schema's.
func DecodeEnvelope(b []byte) (Envelope, error) {
	if len(b) == 0 {
		return Envelope{}, Serialization("empty frame")
	}
	if b[0] != WireJSON {
		return Envelope{}, UnsupportedVersion("unsupported version wire format 0x%x (this node speaks wire format 0x01)", b[0])
	}
	v, err := Parse(b[1:])
	if err != nil {
		return Envelope{}, Serialization("frame is not valid JSON: %v", err)
	}
	return EnvelopeFromValue(v)
}

// EnvelopeFromValue checks a parsed envelope against the schema's fields.
func EnvelopeFromValue(v Value) (Envelope, error) {
	o, ok := v.(*Object)
	if !ok {
		return Envelope{}, Validation("invalid envelope: expected object")
	}
	ver, ok := o.vals["version"].(float64)
	if !ok {
		return Envelope{}, Validation("invalid envelope: version: expected number")
	}
	if ver != EnvelopeVersion {
		return Envelope{}, UnsupportedVersion("unsupported version %s (this node speaks %d)", FormatNumber(ver), EnvelopeVersion)
	}
	for _, k := range []string{"id", "source", "type", "subject", "priority"} {
		if s, ok := o.vals[k].(string); !ok || s == "" {
			return Envelope{}, Validation("invalid envelope: %s: expected a non-empty string", k)
		}
	}
	if ts, ok := o.vals["timestamp"].(float64); !ok || ts < 0 || ts != math.Trunc(ts) {
		return Envelope{}, Validation("invalid envelope: timestamp: expected an integer")
	}
	if _, ok := o.vals["destination"].(*Object); !ok {
		return Envelope{}, Validation("invalid envelope: destination: expected object")
	}
	if _, ok := o.vals["payload"]; !ok {
		// JSON.stringify drops an undefined payload; the schema takes any value
		o.Set("payload", nil)
	}
	if h, ok := o.vals["headers"]; ok {
		if _, isObj := h.(*Object); !isObj {
			return Envelope{}, Validation("invalid envelope: headers: expected object")
		}
	}
	if ttl, ok := o.vals["ttl"]; ok {
		if n, isNum := ttl.(float64); !isNum || n < 0 {
			return Envelope{}, Validation("invalid envelope: ttl: expected a positive number")
		}
	}
	return Envelope{o}, nil
}
