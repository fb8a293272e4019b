package wire

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/hkdf"
)

// Opening a sealed payload ({ sealed: 2, kid, at, ek, wraps, nonce, ct }) as its recipient,
// docs/wire-format.md Part 1 section 8. Only opening, and only a payload that carries its wraps:
// this peer keeps no content keys between payloads and seals nothing.

// X25519Of is the X25519 key pair sealing derives from an Ed25519 seed: the clamped first half
// of SHA-512(seed) (libsodium's crypto_sign_ed25519_sk_to_curve25519), and its public key.
func X25519Of(seed []byte) (secret, public []byte, err error) {
	h := sha512.Sum512(seed)
	s := h[:32]
	s[0] &= 248
	s[31] &= 127
	s[31] |= 64
	pub, err := curve25519.X25519(s, curve25519.Basepoint)
	return s, pub, err
}

// SealingTag is how a wrap names its recipient: base64url of the first 8 bytes of
// SHA-256(X25519 public key).
func SealingTag(x25519Public []byte) string {
	sum := sha256.Sum256(x25519Public)
	return base64.RawURLEncoding.EncodeToString(sum[:8])
}

// OpenSealed opens a sealed payload for the recipient whose Ed25519 seed is given. subject is
// the topic, `rpc request <command>` or `rpc answer <command>`; source the envelope's source.
// It returns the plaintext JSON and the content key. SEC003 when it is not for this recipient
// or does not authenticate.
func OpenSealed(payload *Object, seed []byte, mesh, subject, source string) ([]byte, []byte, error) {
	sealedErr := func(f string, a ...any) error {
		return &Error{"SEC003", "SealedError", fmt.Sprintf(f, a...)}
	}
	s := func(k string) string { v, _ := payload.vals[k].(string); return v }
	b64 := func(k string) []byte { b, _ := base64.StdEncoding.DecodeString(s(k)); return b }
	at, _ := payload.vals["at"].(float64)
	secret, public, err := X25519Of(seed)
	if err != nil {
		return nil, nil, err
	}
	tag := SealingTag(public)
	wraps, _ := payload.vals["wraps"].([]Value)
	var wrapCT []byte
	for _, w := range wraps {
		o, _ := w.(*Object)
		if to, _ := o.vals["to"].(string); to == tag {
			ct, _ := o.vals["ct"].(string)
			wrapCT, _ = base64.StdEncoding.DecodeString(ct)
		}
	}
	if wrapCT == nil {
		return nil, nil, sealedErr("no wrap for this recipient (%s)", tag)
	}
	ek := b64("ek")
	shared, err := curve25519.X25519(secret, ek)
	if err != nil {
		return nil, nil, sealedErr("ephemeral key: %v", err)
	}
	info := "agentmesh/sealed/1/wrap\n" + mesh + "\n" + source + "\n" + s("kid") + "\n" + strconv.FormatInt(int64(at), 10)
	wrapKey := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, shared, append(append([]byte{}, ek...), public...), []byte(info)), wrapKey); err != nil {
		return nil, nil, err
	}
	aead, err := chacha20poly1305.New(wrapKey)
	if err != nil {
		return nil, nil, err
	}
	contentKey, err := aead.Open(nil, make([]byte, 12), wrapCT, nil)
	if err != nil {
		return nil, nil, sealedErr("the wrap does not open")
	}
	x, err := chacha20poly1305.NewX(contentKey)
	if err != nil {
		return nil, nil, err
	}
	ad := "agentmesh/sealed/1/content\n" + mesh + "\n" + subject + "\n" + source + "\n" + s("kid")
	plain, err := x.Open(nil, b64("nonce"), b64("ct"), []byte(ad))
	if err != nil {
		return nil, nil, sealedErr("the payload does not authenticate")
	}
	return plain, contentKey, nil
}
