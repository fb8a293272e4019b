package wire

import (
	"encoding/base64"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// StatementSignedBytes is what a member statement's author signs: the domain, the mesh and
// the body, each on its own line; the body is signed as the text it is, never re-serialised.
func StatementSignedBytes(mesh, body string) []byte {
	return []byte("agentmesh/member/1\n" + mesh + "\n" + body)
}

// SignStatement signs a statement body (standard base64).
func SignStatement(key crypto.PrivKey, mesh, body string) (string, error) {
	sig, err := key.Sign(StatementSignedBytes(mesh, body))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyStatement checks a statement's signature against its author's peer id.
func VerifyStatement(author, mesh, body, sig string) bool {
	pub, err := PublicKeyOf(author)
	if err != nil {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	ok, err := pub.Verify(StatementSignedBytes(mesh, body), raw)
	return err == nil && ok
}
