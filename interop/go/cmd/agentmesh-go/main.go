// Command agentmesh-go is a peer of an agentmesh mesh written in Go on go-libp2p, from the
// mesh's documented wire format (docs/wire-format.md, docs/security.md, interop/vectors).
//
//	agentmesh-go id --identity go.json
//	agentmesh-go start --mesh m --identity go.json --credential go.cred.json --psk mesh.psk \
//	    --listen /ip4/127.0.0.1/tcp/7010 --bootstrap /ip4/127.0.0.1/tcp/7001/p2p/<id> [--sub topic]
//	agentmesh-go request --mesh m ... --bootstrap <addr> <peer id or name> <command> [json]
//	agentmesh-go pub --mesh m ... --bootstrap <addr> <topic> <json>
//
// `start` prints one JSON object per line (ready, admitted, message, result) and takes
// operations as JSON lines on stdin: {"op":"request","id":1,"to":"<peer or name>",
// "command":"echo","payload":{...}}, {"op":"publish","id":2,"topic":"t","payload":...},
// {"op":"subscribe","topic":"t"}, {"op":"bad","id":3,"to":"<peer>","case":"truncated"}.
package main

import (
	"fmt"
	"os"
)

const usage = `usage: agentmesh-go <command> [flags]

commands:
  id        create an identity file (the format of agentmesh id), or show its peer id
  start     join a mesh and serve: answers "echo" and "info"; JSON lines on stdout, operations on stdin
  request   join as a client, ask one agent (peer id or name) a command, print the answer
  pub       join as a client, publish one event, leave

Exit codes: 0 done, 1 failed at run time, 2 usage or configuration.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var code int
	switch os.Args[1] {
	case "id":
		code = cmdID(os.Args[2:])
	case "start":
		code = cmdStart(os.Args[2:])
	case "request":
		code = cmdRequest(os.Args[2:])
	case "pub":
		code = cmdPub(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n%s", os.Args[1], usage)
		code = 2
	}
	os.Exit(code)
}
