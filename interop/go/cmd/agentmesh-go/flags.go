package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/agentmesh/agentmesh/interop/go/mesh"
	"github.com/agentmesh/agentmesh/interop/go/wire"
)

type list []string

func (l *list) String() string { return strings.Join(*l, ",") }
func (l *list) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// common are the flags of every command that joins a mesh, named as the TypeScript CLI names them.
type common struct {
	fs         *flag.FlagSet
	mesh       *string
	name       *string
	identity   *string
	credential *string
	psk        *string
	open       *bool
	listen     list
	bootstrap  list
	roles      list
	caps       list
	verbose    *bool
	positional []string
	timeout    *time.Duration
}

func newCommon(name string) *common {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	c := &common{fs: fs}
	c.mesh = fs.String("mesh", "default", "mesh name")
	c.name = fs.String("name", "go-peer", "agent name shown to peers")
	c.identity = fs.String("identity", "agentmesh-go-identity.json", "identity file (created, mode 0600, if missing)")
	c.credential = fs.String("credential", "", "credential file from the mesh owner (agentmesh credential issue)")
	c.psk = fs.String("psk", "", "the mesh's pre-shared key file (mesh.psk)")
	c.open = fs.Bool("open", false, "open mesh: no credential")
	fs.Var(&c.listen, "listen", "multiaddrs to listen on (repeat or comma-separate)")
	fs.Var(&c.bootstrap, "bootstrap", "peers to join through, /ip4/.../tcp/.../p2p/<id> (repeat or comma-separate)")
	fs.Var(&c.roles, "roles", "roles announced in the card")
	fs.Var(&c.caps, "capabilities", "capabilities announced in the card")
	c.verbose = fs.Bool("v", false, "log to stderr")
	c.timeout = fs.Duration("timeout", 30*time.Second, "how long to wait for the mesh and for an answer")
	return c
}

func (c *common) parse(args []string) error {
	// Go's flag package stops at the first positional argument; the TypeScript CLI takes
	// flags anywhere, so positionals are collected and flags parsed on.
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			return err
		}
		if c.fs.NArg() == 0 {
			break
		}
		pos = append(pos, c.fs.Arg(0))
		args = c.fs.Args()[1:]
	}
	c.positional = pos
	if !*c.open && *c.credential == "" {
		return fmt.Errorf("CFG001: a closed mesh needs --identity and --credential (agentmesh credential issue --peer <id>), or --open")
	}
	if *c.open && *c.credential != "" {
		return fmt.Errorf("CFG001: --open with --credential: an open node shows no credential")
	}
	return nil
}

func (c *common) args() []string { return c.positional }

func (c *common) config(client bool) (mesh.Config, error) {
	key, err := mesh.LoadOrCreateIdentity(*c.identity)
	if err != nil {
		return mesh.Config{}, fmt.Errorf("CFG001: %w", err)
	}
	cfg := mesh.Config{Key: key, Mesh: *c.mesh, Name: *c.name, Listen: c.listen, Roles: c.roles, Capabilities: c.caps, Client: client}
	if *c.credential != "" {
		cred, err := wire.LoadCredential(*c.credential)
		if err != nil {
			return cfg, fmt.Errorf("CFG001: %w", err)
		}
		cfg.Credential = cred
	}
	if *c.psk != "" {
		if cfg.PSK, err = mesh.LoadPSK(*c.psk); err != nil {
			return cfg, fmt.Errorf("CFG001: %w", err)
		}
	}
	if *c.verbose {
		cfg.Logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, "agentmesh-go: "+f+"\n", a...) }
	}
	return cfg, nil
}

// join starts the node and dials every bootstrap peer; it fails when none admitted it.
func (c *common) join(client bool) (*mesh.Node, error) {
	cfg, err := c.config(client)
	if err != nil {
		return nil, err
	}
	if cfg.Credential != nil {
		id, _ := peerIDOf(cfg)
		if err := cfg.Credential.Check(cfg.Mesh, cfg.Credential.Issuer, id, time.Now()); err != nil {
			return nil, fmt.Errorf("CFG001: own credential: %v", err)
		}
	}
	n, err := mesh.Start(cfg)
	if err != nil {
		return nil, err
	}
	var lastErr error
	joined := 0
	for _, b := range c.bootstrap {
		ctx, cancel := context.WithTimeout(context.Background(), *c.timeout)
		_, err := n.Dial(ctx, b)
		cancel()
		if err != nil {
			lastErr = err
			fmt.Fprintf(os.Stderr, "agentmesh-go: %s: %v\n", b, err)
			continue
		}
		joined++
	}
	if len(c.bootstrap) > 0 && joined == 0 {
		n.Close()
		return nil, fmt.Errorf("COM002: no bootstrap peer admitted this peer: %v", lastErr)
	}
	return n, nil
}
