package wire

import "encoding/binary"

// EncodeBatch is a gossip batch: the version byte, then the JSON array of the envelopes.
func EncodeBatch(envs []Envelope) []byte {
	arr := make([]Value, len(envs))
	for i, e := range envs {
		arr[i] = e.Object
	}
	return append([]byte{WireJSON}, Stringify(arr)...)
}

// DecodeBatch reads a gossip batch, or a fan-out batch with a shared head (0x05). 0x03 and 0x04
// carry sealed groups this peer cannot open, so it refuses them whole (MSG002), as
// docs/wire-format.md asks of a node that does not know them.
func DecodeBatch(b []byte) ([]Envelope, error) {
	if len(b) == 0 {
		return nil, Serialization("empty batch")
	}
	if b[0] == WireSharedHead {
		return decodeSharedHead(b, MaxMessageBytes)
	}
	if b[0] != WireJSON {
		return nil, UnsupportedVersion("unsupported version wire format 0x%x (this node speaks wire format 0x01)", b[0])
	}
	v, err := Parse(b[1:])
	if err != nil {
		return nil, Serialization("batch is not valid JSON: %v", err)
	}
	arr, ok := v.([]Value)
	if !ok {
		return nil, Validation("batch: expected an array of envelopes")
	}
	out := make([]Envelope, 0, len(arr))
	for _, e := range arr {
		env, err := EnvelopeFromValue(e)
		if err != nil {
			return nil, err
		}
		out = append(out, env)
	}
	return out, nil
}

// Fan-out frames (/agentmesh/fanout/1.0.0): after the varint length, a kind byte: 0x01 a batch
// (varint topic length, topic, then the batch), 0x02 a control message as JSON (hello, reach).
const (
	FanoutBatch   = 0x01
	FanoutControl = 0x02
)

// FanoutBatchFrame is one batch on a fan-out stream, with its length prefix.
func FanoutBatchFrame(topic string, batch []byte) []byte {
	body := []byte{FanoutBatch}
	body = AppendFrame(body, []byte(topic))
	body = append(body, batch...)
	return AppendFrame(nil, body)
}

// FanoutControlFrame is one control message on a fan-out stream, with its length prefix.
func FanoutControlFrame(msg *Object) []byte {
	return AppendFrame(nil, append([]byte{FanoutControl}, Stringify(msg)...))
}

// WireSharedHead is a fan-out batch whose envelopes' common fields come once, in a head
// (docs/wire-format.md, "Batches with a shared head"): 0x05, a varint length, the head (a JSON
// object of sharedFields only), then the JSON array of each envelope's own fields. An envelope
// is the head's fields with its own over them. Sent only to a peer whose fan-out hello accepts
// SharedHeadCodec.
const WireSharedHead = 0x05

// SharedHeadCodec is what a fan-out hello's accepts says to be sent 0x05 batches.
const SharedHeadCodec = "batch:shared-head"

var sharedFields = map[string]bool{"version": true, "source": true, "destination": true, "type": true, "subject": true, "headers": true, "priority": true}

func decodeSharedHead(b []byte, limit int) ([]Envelope, error) {
	if len(b) > limit {
		return nil, TooLarge(len(b), limit)
	}
	h, n := binary.Uvarint(b[1:])
	if n <= 0 || n > maxVarintBytes {
		return nil, Serialization("batch with a shared head: the head's length is not a varint")
	}
	start := 1 + n
	if h < 2 || h >= uint64(len(b)-start) {
		return nil, Serialization("batch with a shared head: a head of %d bytes in a frame of %d", h, len(b))
	}
	end := start + int(h)
	hv, err := Parse(b[start:end])
	if err != nil {
		return nil, Serialization("batch with a shared head: the head is not valid JSON: %v", err)
	}
	head, ok := hv.(*Object)
	if !ok {
		return nil, Validation("batch with a shared head: the head must be a JSON object")
	}
	for _, k := range head.Keys() {
		if !sharedFields[k] {
			return nil, Validation("batch with a shared head: the head may not hold %q", k)
		}
	}
	iv, err := Parse(b[end:])
	if err != nil {
		return nil, Serialization("batch with a shared head: the envelopes are not valid JSON: %v", err)
	}
	arr, ok := iv.([]Value)
	if !ok {
		return nil, Validation("batch with a shared head: the envelopes must be a JSON array")
	}
	// Never more than the same batch written as 0x01 under the same limit.
	if plain := 1 + len(arr)*(int(h)-1) + len(b) - end; plain > limit {
		return nil, TooLarge(plain, limit)
	}
	out := make([]Envelope, 0, len(arr))
	for _, item := range arr {
		own, ok := item.(*Object)
		if !ok {
			return nil, Validation("envelope must be a JSON object")
		}
		env := head.Clone()
		for _, k := range own.Keys() {
			v, _ := own.Get(k)
			env.Set(k, v)
		}
		e, err := EnvelopeFromValue(env)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
