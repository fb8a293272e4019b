package wire

import (
	"time"
)

// CardSubject is the rpc command of the card exchange.
const CardSubject = "$agentmesh/card"

// Card is what a peer sends in the card exchange: its agent card (kept as the object it came
// as) and its credential (closed mesh).
type Card struct {
	Card       *Object
	Credential *Credential // nil when none was sent
	Peers      Value       // the answer's `peers`, nil in a request
}

// CardFromPayload reads a card exchange payload, request or answer.
func CardFromPayload(v Value) (*Card, error) {
	o, ok := v.(*Object)
	if !ok {
		return nil, Validation("card exchange: expected object")
	}
	card, ok := o.vals["card"].(*Object)
	if !ok {
		return nil, Validation("card exchange: card: expected object")
	}
	c := &Card{Card: card, Peers: o.vals["peers"]}
	if cv, ok := o.vals["credential"]; ok && cv != nil {
		cred, err := CredentialFromValue(cv)
		if err != nil {
			return nil, err
		}
		c.Credential = cred
	}
	return c, nil
}

// PeerID is the card's peerId.
func (c *Card) PeerID() string { s, _ := c.Card.vals["peerId"].(string); return s }

// Name is the card's agent name.
func (c *Card) Name() string { s, _ := c.Card.vals["name"].(string); return s }

// CheckFrom admits the card of the peer Noise authenticated as `from`: its credential must
// name that peer, this mesh and this owner, be in its time and verify (SEC001 otherwise).
func (c *Card) CheckFrom(from, mesh, issuer string, now time.Time) error {
	if c.Credential == nil {
		return NotAdmitted("no credential")
	}
	return c.Credential.Check(mesh, issuer, from, now)
}

// CardFields make this peer's own card, in the field order of a TypeScript node's card.
type CardFields struct {
	PeerID       string
	Name         string
	Mesh         string
	Roles        []string
	Capabilities []string
	Version      string
	Protocols    []string
	Addresses    []string
	StartedAt    int64
	Client       bool
}

// NewCard makes an agent card.
func NewCard(f CardFields) *Object {
	o := NewObject("peerId", f.PeerID, "name", f.Name, "mesh", f.Mesh, "roles", toValues(f.Roles),
		"capabilities", toValues(f.Capabilities), "version", f.Version, "protocols", toValues(f.Protocols),
		"addresses", toValues(f.Addresses), "startedAt", float64(f.StartedAt))
	if f.Client {
		o.Set("client", true)
	}
	return o
}
