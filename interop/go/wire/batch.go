package wire

// EncodeBatch is a gossip batch: the version byte, then the JSON array of the envelopes.
func EncodeBatch(envs []Envelope) []byte {
	arr := make([]Value, len(envs))
	for i, e := range envs {
		arr[i] = e.Object
	}
	return append([]byte{WireJSON}, Stringify(arr)...)
}

// DecodeBatch reads a gossip batch. Only 0x01 is read here: 0x03 and 0x04 carry sealed groups
// this peer cannot open, so it refuses them whole (MSG002), as docs/wire-format.md asks of a
// node that does not know them.
func DecodeBatch(b []byte) ([]Envelope, error) {
	if len(b) == 0 {
		return nil, Serialization("empty batch")
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
