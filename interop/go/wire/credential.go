package wire

import (
	"encoding/base64"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Credential is the mesh owner's signed statement that one peer id belongs to the mesh, with
// roles and capabilities, between issuedAt and expiresAt (docs/security.md, "Model").
type Credential struct {
	V            int
	Mesh         string
	Issuer       string
	Subject      string
	Roles        []string
	Capabilities []string
	Serial       string
	IssuedAt     int64
	ExpiresAt    int64
	Signature    string // standard base64 with padding
	raw          *Object
}

const credentialDomain = "agentmesh credential v1\n"

// ClockSkew is how far a credential's times are stretched on each side when checked.
const ClockSkew = 60 * time.Second

// LoadCredential reads a credential file (`agentmesh credential issue --out`).
func LoadCredential(path string) (*Credential, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return CredentialFromValue(v)
}

// CredentialFromValue reads a credential's JSON object: MSG001 when it is not one.
func CredentialFromValue(v Value) (*Credential, error) {
	o, ok := v.(*Object)
	if !ok {
		return nil, Validation("credential: expected object")
	}
	c := &Credential{raw: o}
	num := func(k string) (int64, bool) { f, ok := o.vals[k].(float64); return int64(f), ok }
	s := func(k string) (string, bool) { x, ok := o.vals[k].(string); return x, ok }
	list := func(k string) ([]string, bool) {
		a, ok := o.vals[k].([]Value)
		if !ok {
			return nil, false
		}
		out := make([]string, 0, len(a))
		for _, e := range a {
			x, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, x)
		}
		return out, true
	}
	var okAll [9]bool
	var v64 int64
	v64, okAll[0] = num("v")
	c.V = int(v64)
	c.Mesh, okAll[1] = s("mesh")
	c.Issuer, okAll[2] = s("issuer")
	c.Subject, okAll[3] = s("subject")
	c.Roles, okAll[4] = list("roles")
	c.Capabilities, okAll[5] = list("capabilities")
	c.Serial, okAll[6] = s("serial")
	c.IssuedAt, okAll[7] = num("issuedAt")
	c.ExpiresAt, okAll[8] = num("expiresAt")
	for i, ok := range okAll {
		if !ok {
			return nil, Validation("credential: field %d of v, mesh, issuer, subject, roles, capabilities, serial, issuedAt, expiresAt is missing or of the wrong type", i)
		}
	}
	if c.Signature, ok = s("signature"); !ok {
		return nil, Validation("credential: signature is missing")
	}
	return c, nil
}

// Object is the credential's JSON as it was read (or made), to be sent on as it is.
func (c *Credential) Object() *Object {
	if c.raw != nil {
		return c.raw
	}
	return NewObject("v", float64(c.V), "mesh", c.Mesh, "issuer", c.Issuer, "subject", c.Subject,
		"roles", toValues(c.Roles), "capabilities", toValues(c.Capabilities), "serial", c.Serial,
		"issuedAt", float64(c.IssuedAt), "expiresAt", float64(c.ExpiresAt), "signature", c.Signature)
}

func toValues(ss []string) []Value {
	out := make([]Value, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func sortedValues(ss []string) []Value {
	c := append([]string(nil), ss...)
	sort.Slice(c, func(i, j int) bool { return lessUTF16(c[i], c[j]) })
	return toValues(c)
}

// SignedBytes is what the owner signs: the domain line, then the fields as a JSON array.
// Roles and capabilities are signed as listed (the vector's order).
func (c *Credential) SignedBytes() []byte {
	arr := []Value{float64(c.V), c.Mesh, c.Issuer, c.Subject, toValues(c.Roles), toValues(c.Capabilities),
		c.Serial, float64(c.IssuedAt), float64(c.ExpiresAt)}
	return append([]byte(credentialDomain), Stringify(arr)...)
}

// PublicKeyOf is the Ed25519 key a peer id holds (an identity multihash).
func PublicKeyOf(id string) (crypto.PubKey, error) {
	pid, err := peer.Decode(id)
	if err != nil {
		return nil, err
	}
	return pid.ExtractPublicKey()
}

// VerifySignature checks the owner's signature against the issuer's peer id.
func (c *Credential) VerifySignature() error {
	pub, err := PublicKeyOf(c.Issuer)
	if err != nil {
		return NotAdmitted("credential issuer is not a peer id with a key: %v", err)
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil {
		return NotAdmitted("credential signature is not base64")
	}
	ok, err := pub.Verify(c.SignedBytes(), sig)
	if err != nil || !ok {
		return NotAdmitted("credential signature does not verify")
	}
	return nil
}

// Check is what admission checks of a peer's credential: the subject is the peer Noise
// authenticated, the issuer the one of this node's own credential, the mesh this mesh, the
// time within issuedAt-skew .. expiresAt+skew, and the signature.
func (c *Credential) Check(mesh, issuer, subject string, now time.Time) error {
	if c.V != 1 {
		return NotAdmitted("credential version %d is not 1", c.V)
	}
	if c.Mesh != mesh {
		return NotAdmitted("credential is for mesh %q, not %q", c.Mesh, mesh)
	}
	if c.Issuer != issuer {
		return NotAdmitted("credential issuer %s is not this mesh's owner %s", c.Issuer, issuer)
	}
	if c.Subject != subject {
		return NotAdmitted("credential subject %s is not the peer %s", c.Subject, subject)
	}
	ms := now.UnixMilli()
	if ms < c.IssuedAt-ClockSkew.Milliseconds() {
		return NotAdmitted("credential is not valid yet")
	}
	if ms > c.ExpiresAt+ClockSkew.Milliseconds() {
		return NotAdmitted("credential expired")
	}
	return c.VerifySignature()
}

// Sign signs the credential with the owner's key (for tests and vectors).
func (c *Credential) Sign(owner crypto.PrivKey) error {
	sig, err := owner.Sign(c.SignedBytes())
	if err != nil {
		return err
	}
	c.Signature = base64.StdEncoding.EncodeToString(sig)
	c.raw = nil
	return nil
}

// RevocationSignedBytes is what the owner signs for a revocation list: serials and subjects
// sorted (the vector's signed text lists them sorted while the list keeps its own order).
func RevocationSignedBytes(v int, mesh, issuer string, serials, subjects []string, issuedAt int64) []byte {
	arr := []Value{float64(v), mesh, issuer, sortedValues(serials), sortedValues(subjects), float64(issuedAt)}
	return append([]byte("agentmesh revocation list v1\n"), Stringify(arr)...)
}
