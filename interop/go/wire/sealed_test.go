package wire

import (
	"encoding/hex"
	"errors"
	"testing"
)

func TestSealedVector(t *testing.T) {
	v := loadVector(t, "sealed.json")
	keys := loadVector(t, "keys.json")
	who := str(t, v, "recipient")
	seed := unhex(t, str(t, keys, who, "seed_hex"))
	secret, public, err := X25519Of(seed)
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "x25519 secret", secret, unhex(t, str(t, v, "recipient_x25519_secret_hex")))
	sameBytes(t, "x25519 public", public, unhex(t, str(t, v, "recipient_x25519_public_hex")))
	if SealingTag(public) != str(t, v, "recipient_tag") {
		t.Errorf("tag %s, want %s", SealingTag(public), str(t, v, "recipient_tag"))
	}
	for _, w := range []string{"alice", "bob", "owner", "carol"} {
		_, pub, _ := X25519Of(unhex(t, str(t, keys, w, "seed_hex")))
		if hex.EncodeToString(pub) != str(t, keys, w, "x25519_public_hex") || SealingTag(pub) != str(t, keys, w, "sealing_tag") {
			t.Errorf("%s: x25519 public or tag differ", w)
		}
	}
	b := field(t, v, "binding").(*Object)
	payload := field(t, v, "sealed_payload").(*Object)
	plain, key, err := OpenSealed(payload, seed, str(t, b, "mesh"), str(t, b, "subject"), str(t, b, "source"))
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "content key", key, unhex(t, str(t, v, "content_key_hex")))
	sameBytes(t, "plaintext", plain, []byte(str(t, v, "plaintext_json")))
	// Another subject (the binding) or another recipient does not open it.
	var e *Error
	if _, _, err := OpenSealed(payload, seed, str(t, b, "mesh"), "rpc answer echo", str(t, b, "source")); !errors.As(err, &e) || e.Code != "SEC003" {
		t.Errorf("opened under another subject: %v", err)
	}
	if _, _, err := OpenSealed(payload, unhex(t, str(t, keys, "carol", "seed_hex")), str(t, b, "mesh"), str(t, b, "subject"), str(t, b, "source")); !errors.As(err, &e) || e.Code != "SEC003" {
		t.Errorf("opened by carol: %v", err)
	}
}
