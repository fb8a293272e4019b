package wire

import (
	"encoding/base64"

	"github.com/libp2p/go-libp2p/core/crypto"
)

const envelopeDomain = "agentmesh envelope v1\n"

// EnvelopeSignedBytes is what an envelope's signature covers: the domain line, then the
// envelope without `signature` as canonical JSON.
func EnvelopeSignedBytes(e Envelope) []byte {
	c := e.Object.Clone()
	c.Delete("signature")
	return append([]byte(envelopeDomain), Canonical(c)...)
}

// SignEnvelope adds the source's signature (base64url without padding) as the last field.
func SignEnvelope(e Envelope, key crypto.PrivKey) error {
	sig, err := key.Sign(EnvelopeSignedBytes(e))
	if err != nil {
		return err
	}
	e.Object.Set("signature", base64.RawURLEncoding.EncodeToString(sig))
	return nil
}

// VerifyEnvelope checks the signature against the source's peer id: SEC004 when missing or
// not verifying.
func VerifyEnvelope(e Envelope) error {
	bad := &Error{"SEC004", "BadSignatureError", "envelope signature does not verify"}
	s, _ := e.vals["signature"].(string)
	if s == "" {
		return &Error{"SEC004", "BadSignatureError", "envelope carries no signature"}
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return bad
	}
	pub, err := PublicKeyOf(e.Source())
	if err != nil {
		return bad
	}
	if ok, err := pub.Verify(EnvelopeSignedBytes(e), raw); err != nil || !ok {
		return bad
	}
	return nil
}
