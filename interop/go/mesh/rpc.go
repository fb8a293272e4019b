package mesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/agentmesh/agentmesh/interop/go/wire"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// stallTimeout: a frame begun and not finished within this is given up (rpc.stallTimeoutMs).
const stallTimeout = 10 * time.Second

// serveRPC answers the requests of one stream, each frame on its own, in any number.
func (n *Node) serveRPC(s network.Stream) {
	defer s.Close()
	from := s.Conn().RemotePeer()
	fr := wire.NewFrameReader(s)
	// A frame begun must be finished within stallTimeout (rpc.stallTimeoutMs); an idle stream
	// between frames is kept.
	fr.Started = func() { _ = s.SetReadDeadline(time.Now().Add(n.cfg.StallTimeout)) }
	var wmu sync.Mutex
	write := func(env wire.Envelope) {
		wmu.Lock()
		defer wmu.Unlock()
		_ = s.SetWriteDeadline(time.Now().Add(stallTimeout))
		_, _ = s.Write(wire.AppendFrame(nil, env.Encode()))
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		_ = s.SetReadDeadline(time.Time{})
		body, err := fr.Next()
		if err != nil {
			var fatal wire.FatalError
			var bad *wire.Error
			switch {
			case errors.As(err, &fatal):
				write(n.errorAnswer(from, "", "error", fatal.E))
				return
			case errors.As(err, &bad):
				write(n.errorAnswer(from, "", "error", bad))
				continue
			case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, os.ErrDeadlineExceeded):
				n.logf("rpc from %s: frame cut short or stalled: stream aborted", from)
				_ = s.Reset()
				return
			default:
				return
			}
		}
		env, err := wire.DecodeEnvelope(body)
		if err != nil {
			write(n.errorAnswer(from, peekID(body), "error", asError(err)))
			continue
		}
		if env.Source() != from.String() {
			write(n.errorAnswer(from, env.ID(), "error", wire.Validation("envelope source %s is not the authenticated peer %s", env.Source(), from)))
			continue
		}
		if env.Type() == "RESPONSE" {
			continue // answers come on the streams this peer opened
		}
		if now := time.Now(); env.Expired(now) {
			// Not handled: answered COM001 naming both clocks (docs/wire-format.md section 3).
			ts, _ := env.Get("timestamp")
			ttl, _ := env.Get("ttl")
			write(n.answer(env, nil, wire.Timeout("%q expired before it arrived: sent at %s with a ttl of %s ms, here it is %d",
				env.Subject(), wire.FormatNumber(ts.(float64)), wire.FormatNumber(ttl.(float64)), now.UnixMilli())))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			write(n.dispatch(from, env))
		}()
	}
}

// peekID is the request's id when one can be read from the JSON after the first byte, so an
// error answer can name the request it refuses.
func peekID(body []byte) string {
	if len(body) < 2 {
		return ""
	}
	v, err := wire.Parse(body[1:])
	if err != nil {
		return ""
	}
	if o, ok := v.(*wire.Object); ok {
		id, _ := o.Get("id")
		s, _ := id.(string)
		return s
	}
	return ""
}

func asError(err error) *wire.Error {
	var e *wire.Error
	if errors.As(err, &e) {
		return e
	}
	return wire.HandlerFailed(err.Error())
}

func (n *Node) errorAnswer(to peer.ID, correlation, subject string, e *wire.Error) wire.Envelope {
	return wire.NewEnvelope(wire.EnvelopeFields{Source: n.ID.String(), Destination: wire.NewObject("peer", to.String()),
		Type: "RESPONSE", Subject: subject, CorrelationID: correlation, Error: e})
}

func (n *Node) answer(req wire.Envelope, payload wire.Value, e *wire.Error) wire.Envelope {
	return wire.NewEnvelope(wire.EnvelopeFields{Source: n.ID.String(), Destination: wire.NewObject("peer", req.Source()),
		Type: "RESPONSE", Subject: req.Subject(), Payload: payload, CorrelationID: req.ID(), Error: e})
}

func (n *Node) dispatch(from peer.ID, req wire.Envelope) wire.Envelope {
	if req.Subject() == wire.CardSubject {
		c, err := n.checkCard(from, req.Payload())
		if err != nil {
			n.logf("refused %s: %v", from, err)
			go func() { time.Sleep(100 * time.Millisecond); _ = n.Host.Network().ClosePeer(from) }()
			return n.answer(req, nil, asError(err))
		}
		n.admit(from, c)
		return n.answer(req, n.cardPayload(true), nil)
	}
	if n.Closed() && n.Card(from) == nil {
		// A request that overtakes the card exchange waits for it a little.
		ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
		err := n.WaitAdmitted(ctx, from)
		cancel()
		if err != nil {
			return n.answer(req, nil, wire.NotAdmitted("peer %s is not admitted: no valid credential shown", from))
		}
	}
	n.mu.Lock()
	h := n.handlers[req.Subject()]
	n.mu.Unlock()
	if h == nil {
		return n.answer(req, nil, wire.UnknownCommand(req.Subject()))
	}
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
	defer cancel()
	out, err := h(ctx, from, req.Payload())
	if err != nil {
		return n.answer(req, nil, asError(err))
	}
	return n.answer(req, out, nil)
}

// Request asks peer p to run a command and returns its answer's payload, or the answer's
// error as an *wire.Error.
func (n *Node) Request(ctx context.Context, p peer.ID, cmd string, payload wire.Value, timeout time.Duration) (wire.Value, error) {
	if n.Closed() && cmd != wire.CardSubject {
		if err := n.WaitAdmitted(ctx, p); err != nil {
			return nil, err
		}
	}
	return n.request(ctx, p, cmd, payload, timeout)
}

func (n *Node) request(ctx context.Context, p peer.ID, cmd string, payload wire.Value, timeout time.Duration) (wire.Value, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ch, err := n.channel(ctx, p)
	if err != nil {
		return nil, &wire.Error{Code: "COM002", Name: "ConnectionError", Message: err.Error()}
	}
	req := wire.NewEnvelope(wire.EnvelopeFields{Source: n.ID.String(), Destination: wire.NewObject("peer", p.String()),
		Type: "REQUEST", Subject: cmd, Payload: payload, TTL: timeout.Milliseconds()})
	ans, err := ch.call(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, wire.Timeout("no answer within %d ms", timeout.Milliseconds())
		}
		return nil, &wire.Error{Code: "COM002", Name: "ConnectionError", Message: fmt.Sprintf("no answer: %v", err)}
	}
	if e := ans.Error(); e != nil {
		return nil, e
	}
	return ans.Payload(), nil
}

// rpcChannel is one long-lived rpc stream to a peer: requests go out on it, answers come back
// on it matched by correlationId (docs/wire-format.md section 3: one stream, many requests).
type rpcChannel struct {
	s       network.Stream
	wmu     sync.Mutex
	mu      sync.Mutex
	pending map[string]chan wire.Envelope
	err     error
}

func (n *Node) channel(ctx context.Context, p peer.ID) (*rpcChannel, error) {
	n.chMu.Lock()
	defer n.chMu.Unlock()
	if ch, ok := n.channels[p]; ok {
		ch.mu.Lock()
		dead := ch.err != nil
		ch.mu.Unlock()
		if !dead {
			return ch, nil
		}
	}
	s, err := n.Host.NewStream(ctx, p, RPCProtocol)
	if err != nil {
		return nil, err
	}
	ch := &rpcChannel{s: s, pending: map[string]chan wire.Envelope{}}
	n.channels[p] = ch
	go ch.read(n)
	return ch, nil
}

func (c *rpcChannel) read(n *Node) {
	fr := wire.NewFrameReader(c.s)
	var err error
	for {
		var body []byte
		body, err = fr.Next()
		if err != nil {
			break
		}
		env, derr := wire.DecodeEnvelope(body)
		if derr != nil {
			n.logf("rpc answer: %v", derr)
			continue
		}
		if env.Type() != "RESPONSE" {
			// Requests travel only on a stream their caller opened: this one is ours.
			ans := n.answer(env, nil, wire.Validation("a request on a stream %s opened is not served", n.ID))
			c.wmu.Lock()
			_, _ = c.s.Write(wire.AppendFrame(nil, ans.Encode()))
			c.wmu.Unlock()
			continue
		}
		c.mu.Lock()
		w := c.pending[env.CorrelationID()]
		delete(c.pending, env.CorrelationID())
		c.mu.Unlock()
		if w != nil {
			w <- env
		} else if e := env.Error(); e != nil {
			n.logf("rpc error answer for no request of ours: %v", e)
		}
	}
	c.mu.Lock()
	c.err = err
	if c.err == nil {
		c.err = io.EOF
	}
	for id, w := range c.pending {
		close(w)
		delete(c.pending, id)
	}
	c.mu.Unlock()
	_ = c.s.Reset()
}

func (c *rpcChannel) call(ctx context.Context, req wire.Envelope) (wire.Envelope, error) {
	w := make(chan wire.Envelope, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return wire.Envelope{}, c.err
	}
	c.pending[req.ID()] = w
	c.mu.Unlock()
	c.wmu.Lock()
	_ = c.s.SetWriteDeadline(time.Now().Add(stallTimeout))
	_, err := c.s.Write(wire.AppendFrame(nil, req.Encode()))
	c.wmu.Unlock()
	if err != nil {
		_ = c.s.Reset()
		return wire.Envelope{}, err
	}
	select {
	case env, ok := <-w:
		if !ok {
			c.mu.Lock()
			err := c.err
			c.mu.Unlock()
			return wire.Envelope{}, err
		}
		return env, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, req.ID())
		c.mu.Unlock()
		return wire.Envelope{}, ctx.Err()
	}
}

// RawExchange writes bytes as they are on a fresh rpc stream to p and returns the answers
// read within wait (for a peer that sends what a broken one would), and whether the other
// side closed the stream. Once want answers came, it waits 300 ms more for a close.
func (n *Node) RawExchange(ctx context.Context, p peer.ID, raw []byte, wait time.Duration, want ...int) ([]wire.Envelope, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	s, err := n.Host.NewStream(ctx, p, RPCProtocol)
	if err != nil {
		return nil, false, err
	}
	// Reset, not Close: a node ends an rpc stream only when it closes or resets, not on a
	// half-close, and holds 8 per connection.
	defer func() { _ = s.Reset() }()
	_ = s.SetDeadline(time.Now().Add(wait))
	if _, err := s.Write(raw); err != nil {
		return nil, false, err
	}
	fr := wire.NewFrameReader(s)
	var out []wire.Envelope
	for {
		body, err := fr.Next()
		if err != nil {
			// closed: the other side ended the stream (EOF) or aborted it (reset); not a
			// deadline of ours
			closed := errors.Is(err, io.EOF) || errors.Is(err, network.ErrReset)
			return out, closed, nil
		}
		env, err := wire.DecodeEnvelope(body)
		if err != nil {
			return out, false, err
		}
		out = append(out, env)
		if len(want) > 0 && len(out) >= want[0] {
			_ = s.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		}
	}
}
