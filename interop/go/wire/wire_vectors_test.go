package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func key(t *testing.T, who string) crypto.PrivKey {
	t.Helper()
	keys := loadVector(t, "keys.json")
	der, err := base64.StdEncoding.DecodeString(str(t, keys, who, "private_key_protobuf_base64"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := crypto.UnmarshalPrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeysVectors(t *testing.T) {
	keys := loadVector(t, "keys.json")
	for _, who := range []string{"alice", "bob", "owner", "carol"} {
		seed := unhex(t, str(t, keys, who, "seed_hex"))
		k, err := crypto.UnmarshalEd25519PrivateKey(append(seed, unhex(t, str(t, keys, who, "public_key_hex"))...))
		if err != nil {
			t.Fatal(err)
		}
		id, _ := peer.IDFromPrivateKey(k)
		if id.String() != str(t, keys, who, "peer_id") {
			t.Errorf("%s: peer id %s, want %s", who, id, str(t, keys, who, "peer_id"))
		}
		sameBytes(t, who+" peer id bytes", []byte(id), unhex(t, str(t, keys, who, "peer_id_bytes_hex")))
		der, _ := crypto.MarshalPrivateKey(k)
		sameBytes(t, who+" private key protobuf", []byte(base64.StdEncoding.EncodeToString(der)), []byte(str(t, keys, who, "private_key_protobuf_base64")))
	}
}

// envelopeCase checks one envelope both ways: the given object re-encodes to the bytes, and
// the bytes decode to an envelope that encodes to them again.
func envelopeCase(t *testing.T, name string, envObj Value, encoded []byte) Envelope {
	t.Helper()
	env, err := EnvelopeFromValue(envObj)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	sameBytes(t, name+": encode", env.Encode(), encoded)
	back, err := DecodeEnvelope(encoded)
	if err != nil {
		t.Fatalf("%s: decode: %v", name, err)
	}
	sameBytes(t, name+": decode then encode", back.Encode(), encoded)
	return back
}

func TestEnvelopeVectors(t *testing.T) {
	v := loadVector(t, "envelope.json")
	for _, c := range field(t, v, "cases").([]Value) {
		c := c.(*Object)
		name := str(t, c, "name")
		envelopeCase(t, name, field(t, c, "envelope"), unhex(t, str(t, c, "encoded_hex")))
		sameBytes(t, name+": json", Stringify(field(t, c, "envelope")), []byte(str(t, c, "json")))
	}
	// An envelope this peer makes has the TypeScript node's field order.
	made := NewEnvelope(EnvelopeFields{ID: "00000000-0000-4000-8000-000000000001", Timestamp: 1767225600000,
		Source:      "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5",
		Destination: NewObject("peer", "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq"),
		Type:        "REQUEST", Subject: "echo", Payload: NewObject("text", "hello", "n", 1.0), TTL: 30000})
	first := field(t, v, "cases").([]Value)[0].(*Object)
	sameBytes(t, "made request", made.Encode(), unhex(t, str(t, first, "encoded_hex")))

	s := field(t, v, "signed").(*Object)
	env := envelopeCase(t, "signed", field(t, s, "envelope"), unhex(t, str(t, s, "encoded_hex")))
	sameBytes(t, "signed bytes", EnvelopeSignedBytes(env), unhex(t, str(t, s, "signed_bytes_hex")))
	sameBytes(t, "signed text", EnvelopeSignedBytes(env), []byte(str(t, s, "signed_text")))
	if err := VerifyEnvelope(env); err != nil {
		t.Errorf("signed envelope does not verify: %v", err)
	}
	unsigned := Envelope{env.Object.Clone()}
	unsigned.Delete("signature")
	if err := SignEnvelope(unsigned, key(t, "alice")); err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "signature made here", []byte(unsigned.str("signature")), []byte(str(t, s, "signature_base64url")))
	altered := Envelope{env.Object.Clone()}
	altered.Set("subject", "other")
	var e *Error
	if err := VerifyEnvelope(altered); !errors.As(err, &e) || e.Code != "SEC004" {
		t.Errorf("altered envelope: %v, want SEC004", err)
	}
}

func readFrames(t *testing.T, b []byte) [][]byte {
	t.Helper()
	r := NewFrameReader(bytes.NewReader(b))
	var out [][]byte
	for {
		f, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("frame: %v", err)
		}
		out = append(out, f)
	}
}

func frameCase(t *testing.T, name string, envObj Value, frameHex string) {
	t.Helper()
	frame := unhex(t, frameHex)
	env, err := EnvelopeFromValue(envObj)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	sameBytes(t, name+": frame", AppendFrame(nil, env.Encode()), frame)
	got := readFrames(t, frame)
	if len(got) != 1 {
		t.Fatalf("%s: %d frames", name, len(got))
	}
	envelopeCase(t, name, envObj, got[0])
}

func TestRPCVectors(t *testing.T) {
	v := loadVector(t, "rpc.json")
	frameCase(t, "request", field(t, v, "request", "envelope"), str(t, v, "request", "frame_hex"))
	frameCase(t, "response", field(t, v, "response", "envelope"), str(t, v, "response", "frame_hex"))
	for _, c := range []string{"unknown_command", "handler_error"} {
		frameCase(t, c+" request", field(t, v, c, "request_envelope"), str(t, v, c, "request_frame_hex"))
		frameCase(t, c+" answer", field(t, v, c, "answer_envelope"), str(t, v, c, "answer_frame_hex"))
		ans, _ := EnvelopeFromValue(field(t, v, c, "answer_envelope"))
		if ans.Error() == nil || !strings.HasPrefix(ans.Error().Code, "CMD") {
			t.Errorf("%s: answer error %v", c, ans.Error())
		}
	}
	two := readFrames(t, unhex(t, str(t, v, "two_frames_in_one_write_hex")))
	if len(two) != 2 {
		t.Fatalf("two frames in one write: read %d", len(two))
	}
	a, _ := DecodeEnvelope(two[0])
	b, _ := DecodeEnvelope(two[1])
	if a.ID() != "00000000-0000-4000-8000-0000000000a1" || b.ID() != "00000000-0000-4000-8000-0000000000a3" {
		t.Errorf("two frames: ids %s %s", a.ID(), b.ID())
	}
	// This peer's own answer to an unknown command has the same bytes as the vector's.
	req, _ := EnvelopeFromValue(field(t, v, "unknown_command", "request_envelope"))
	ans := NewEnvelope(EnvelopeFields{ID: "00000000-0000-4000-8000-0000000000a4", Timestamp: 1767225600020,
		Source: "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq", Destination: NewObject("peer", req.Source()),
		Type: "RESPONSE", Subject: req.Subject(), CorrelationID: req.ID(), Error: UnknownCommand(req.Subject())})
	sameBytes(t, "unknown command answer made here", AppendFrame(nil, ans.Encode()), unhex(t, str(t, v, "unknown_command", "answer_frame_hex")))
}

func TestGossipVectors(t *testing.T) {
	v := loadVector(t, "gossip.json")
	var envs []Envelope
	for _, e := range field(t, v, "envelopes").([]Value) {
		env, err := EnvelopeFromValue(e)
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, env)
	}
	batch := unhex(t, str(t, v, "batch_hex"))
	sameBytes(t, "batch", EncodeBatch(envs), batch)
	back, err := DecodeBatch(batch)
	if err != nil || len(back) != 2 {
		t.Fatalf("decode batch: %v (%d)", err, len(back))
	}
	sameBytes(t, "batch decoded and encoded", EncodeBatch(back), batch)
	if GossipTopic(str(t, v, "mesh"), str(t, v, "topic")) != str(t, v, "gossip_topic") {
		t.Errorf("gossip topic %s", GossipTopic(str(t, v, "mesh"), str(t, v, "topic")))
	}
	sameBytes(t, "fan-out batch frame", FanoutBatchFrame(str(t, v, "topic"), batch), unhex(t, str(t, v, "fanout", "batch_frame_hex")))
	hello := NewObject("hello", NewObject("mesh", "vectors", "accepts", []Value{"deflate", "brotli"}))
	sameBytes(t, "fan-out hello", FanoutControlFrame(hello), unhex(t, str(t, v, "fanout", "hello_frame_hex")))
	reach := NewObject("reach", NewObject("news", []Value{"12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5"}))
	sameBytes(t, "fan-out reach", FanoutControlFrame(reach), unhex(t, str(t, v, "fanout", "reach_frame_hex")))
	pub, _ := peer.Decode(str(t, v, "message_id", "publisher"))
	sameBytes(t, "gossip message id", []byte(GossipMessageID([]byte(pub), unhex(t, str(t, v, "message_id", "seqno_hex")))),
		unhex(t, str(t, v, "message_id", "js_libp2p_id_hex")))
	if _, err := DecodeBatch(append([]byte{0x04}, batch[1:]...)); err == nil {
		t.Error("a 0x04 batch was read")
	}
	// The same envelopes from the batch with a shared head: written again as 0x01, the same bytes.
	shared := unhex(t, str(t, v, "fanout", "shared_head", "batch_hex"))
	fromShared, err := DecodeBatch(shared)
	if err != nil || len(fromShared) != 2 {
		t.Fatalf("decode shared-head batch: %v (%d)", err, len(fromShared))
	}
	sameBytes(t, "shared-head batch decoded and encoded", EncodeBatch(fromShared), batch)
	// A head holding an envelope's own field, and a head larger than the frame, are refused.
	bad := append([]byte{WireSharedHead, 14}, []byte(`{"payload":1}[{"id":"x"}]`)...)
	bad[1] = byte(len(`{"payload":1}`))
	if _, err := DecodeBatch(bad); err == nil || err.(*Error).Code != "MSG001" {
		t.Errorf("a head with a payload: %v", err)
	}
	if _, err := DecodeBatch(append([]byte{WireSharedHead, 0x7f}, []byte(`{}[]`)...)); err == nil || err.(*Error).Code != "MSG002" {
		t.Errorf("a head past the frame: %v", err)
	}
}

func TestCredentialVectors(t *testing.T) {
	v := loadVector(t, "credential.json")
	c, err := CredentialFromValue(field(t, v, "credential"))
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "credential signed bytes", c.SignedBytes(), unhex(t, str(t, v, "signed_bytes_hex")))
	sameBytes(t, "credential signed text", c.SignedBytes(), []byte(str(t, v, "signed_text")))
	sig, _ := base64.StdEncoding.DecodeString(c.Signature)
	sameBytes(t, "signature", sig, unhex(t, str(t, v, "signature_hex")))
	chk := field(t, v, "check").(*Object)
	from := int64(field(t, chk, "valid_from_ms").(float64))
	until := int64(field(t, chk, "valid_until_ms").(float64))
	mesh, issuer, subject := str(t, chk, "mesh"), str(t, chk, "issuer"), str(t, chk, "subject")
	for _, ms := range []int64{from, until, from + 1000} {
		if err := c.Check(mesh, issuer, subject, time.UnixMilli(ms)); err != nil {
			t.Errorf("valid at %d: %v", ms, err)
		}
	}
	for _, ms := range []int64{from - 1, until + 1} {
		if err := c.Check(mesh, issuer, subject, time.UnixMilli(ms)); err == nil {
			t.Errorf("valid at %d, outside its time", ms)
		}
	}
	if c.Check("other", issuer, subject, time.UnixMilli(from)) == nil || c.Check(mesh, subject, subject, time.UnixMilli(from)) == nil ||
		c.Check(mesh, issuer, issuer, time.UnixMilli(from)) == nil {
		t.Error("a credential checked for another mesh, issuer or subject passed")
	}
	// Signed here with the owner's key, the signature is the vector's (Ed25519 is deterministic).
	owner := key(t, "owner")
	mine := *c
	if err := mine.Sign(owner); err != nil {
		t.Fatal(err)
	}
	if mine.Signature != c.Signature {
		t.Errorf("signature made here %s, want %s", mine.Signature, c.Signature)
	}
	// A field changed after signing fails.
	forged := *c
	forged.raw = nil
	forged.Roles = []string{"agent", "coordinator", "operator"}
	var e *Error
	if err := forged.VerifySignature(); !errors.As(err, &e) || e.Code != "SEC001" {
		t.Errorf("altered credential: %v, want SEC001", err)
	}
	// The credential file and the owner key file.
	sameBytes(t, "credential file", append(indentJSON(c.Object()), '\n'), []byte(str(t, v, "credential_file_text")))
	rl := field(t, v, "revocation_list").(*Object)
	list := func(k string) []string {
		var out []string
		for _, x := range field(t, rl, k).([]Value) {
			out = append(out, x.(string))
		}
		return out
	}
	signed := RevocationSignedBytes(1, str(t, rl, "mesh"), str(t, rl, "issuer"), list("serials"), list("subjects"), int64(field(t, rl, "issuedAt").(float64)))
	sameBytes(t, "revocation signed text", signed, []byte(str(t, v, "revocation_signed_text")))
	pub, _ := PublicKeyOf(str(t, rl, "issuer"))
	rsig, _ := base64.StdEncoding.DecodeString(str(t, rl, "signature"))
	if ok, _ := pub.Verify(signed, rsig); !ok {
		t.Error("revocation list signature does not verify")
	}
}

func TestMemberStatementVectors(t *testing.T) {
	v := loadVector(t, "member-statement.json")
	mesh, author, body := str(t, v, "mesh"), str(t, v, "author"), str(t, v, "body")
	sameBytes(t, "statement signed bytes", StatementSignedBytes(mesh, body), unhex(t, str(t, v, "signed_bytes_hex")))
	if !VerifyStatement(author, mesh, body, str(t, v, "sig")) {
		t.Error("statement does not verify")
	}
	sig, err := SignStatement(key(t, "alice"), mesh, body)
	if err != nil || sig != str(t, v, "sig") {
		t.Errorf("statement signed here: %s %v", sig, err)
	}
	if VerifyStatement(author, "other", body, sig) || VerifyStatement(author, mesh, body+" ", sig) {
		t.Error("a statement verified for another mesh or body")
	}
	st := field(t, v, "signed_statement").(*Object)
	cred, err := CredentialFromValue(field(t, st, "cred"))
	if err != nil || cred.VerifySignature() != nil || cred.Subject != author {
		t.Errorf("statement's credential: %v", err)
	}
	// The body parses and writes back to the signed text (it was written by JSON.stringify).
	parsed, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "statement body", Stringify(parsed), []byte(body))
}

func TestCardVectors(t *testing.T) {
	v := loadVector(t, "card.json")
	frameCase(t, "card request", field(t, v, "request_envelope"), str(t, v, "request_frame_hex"))
	frameCase(t, "card response", field(t, v, "response_envelope"), str(t, v, "response_frame_hex"))
	frameCase(t, "card with a bad credential", field(t, v, "bad_signature", "request_envelope"), str(t, v, "bad_signature", "request_frame_hex"))
	frameCase(t, "its refusal", field(t, v, "bad_signature", "answer_envelope"), str(t, v, "bad_signature", "answer_frame_hex"))
	sameBytes(t, "request payload", Stringify(field(t, v, "request_envelope", "payload")), Stringify(field(t, v, "request_payload")))
	now := time.UnixMilli(1767225600000)
	req, _ := EnvelopeFromValue(field(t, v, "request_envelope"))
	good, err := CardFromPayload(req.Payload())
	if err != nil {
		t.Fatal(err)
	}
	if err := good.CheckFrom(req.Source(), "vectors", "12D3KooWRndVhVZPCiQwHBBBdg769GyrPUW13zxwqQyf9r3ANaba", now); err != nil {
		t.Errorf("good card: %v", err)
	}
	bad, _ := EnvelopeFromValue(field(t, v, "bad_signature", "request_envelope"))
	badCard, err := CardFromPayload(bad.Payload())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := EnvelopeFromValue(field(t, v, "bad_signature", "answer_envelope"))
	err = badCard.CheckFrom(bad.Source(), "vectors", "12D3KooWRndVhVZPCiQwHBBBdg769GyrPUW13zxwqQyf9r3ANaba", now)
	var e *Error
	if !errors.As(err, &e) || *e != *want.Error() {
		t.Errorf("bad card: %v, want %v", err, want.Error())
	}
	// The answer this peer would make to it is the vector's, byte for byte.
	ans := NewEnvelope(EnvelopeFields{ID: want.ID(), Timestamp: 1767225600020, Source: "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq",
		Destination: NewObject("peer", bad.Source()), Type: "RESPONSE", Subject: bad.Subject(), CorrelationID: bad.ID(), Error: e})
	sameBytes(t, "refusal made here", AppendFrame(nil, ans.Encode()), unhex(t, str(t, v, "bad_signature", "answer_frame_hex")))
}
