package mesh

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// identityFile is the shape `agentmesh id --identity <file>` writes (seen from outside: the
// file it creates), so one identity file serves both the TypeScript CLI and this peer:
// `agentmesh credential issue --identity <file>` reads the peer id from it.
type identityFile struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	PrivateKey string `json:"privateKey"` // base64 of libp2p's protobuf PrivateKey
}

// LoadOrCreateIdentity reads an Ed25519 identity file, or creates one (mode 0600) when the
// file does not exist. A file whose id does not match its key is refused: a credential names
// the id, and a mismatch would only show later as a refused admission.
func LoadOrCreateIdentity(path string) (crypto.PrivKey, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, _, genErr := crypto.GenerateEd25519Key(nil)
		if genErr != nil {
			return nil, genErr
		}
		return key, WriteIdentity(path, key)
	}
	if err != nil {
		return nil, err
	}
	var f identityFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("%s: not an identity file: %w", path, err)
	}
	if f.Type != "Ed25519" {
		return nil, fmt.Errorf("%s: key type %q, want Ed25519", path, f.Type)
	}
	der, err := base64.StdEncoding.DecodeString(f.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("%s: privateKey: %w", path, err)
	}
	key, err := crypto.UnmarshalPrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: privateKey: %w", path, err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if f.ID != "" && f.ID != id.String() {
		return nil, fmt.Errorf("%s: id %s does not match its key (%s)", path, f.ID, id)
	}
	return key, nil
}

// WriteIdentity writes key as an identity file, mode 0600, refusing to overwrite one.
func WriteIdentity(path string, key crypto.PrivKey) error {
	der, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return err
	}
	body, err := json.MarshalIndent(identityFile{Type: "Ed25519", ID: id.String(), PrivateKey: base64.StdEncoding.EncodeToString(der)}, "", "  ")
	if err != nil {
		return err
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := out.Write(append(body, '\n')); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
