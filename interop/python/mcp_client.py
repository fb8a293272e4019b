"""`agentmesh mcp` driven by the MCP Python SDK (mcp), as a Python user would.

    mcp_client.py stdio <command> [args...]   # spawns the server and speaks over its stdin/stdout
    mcp_client.py http <url>                  # an `agentmesh mcp --http` already running

Against a mesh where an agent answers the command `square` and every agent runs tasks of type
`add`, it: lists the tools; waits (through list_agents) until `AGENTMESH_PY_AGENTS` agents are
seen; calls `square` with call_command, and a command nobody offers (a tool error with our
code); submits an `add` task and waits for it; lists the resources and reads the mesh map. It
prints one JSON object with what it saw, which test/interop/python-mcp.test.ts checks. A step
that fails is recorded under "errors" (and the script goes on), so the test says which.
"""
import asyncio
import json
import os
import sys
import traceback

from mcp import Client
from mcp.client.stdio import StdioServerParameters

STEP_S = 30


def structured(result) -> dict:
    """A tool result as the test wants it: the error flag, its text, its structured content."""
    text = ''.join(c.text for c in result.content if getattr(c, 'type', '') == 'text')
    return {'is_error': bool(result.is_error), 'text': text, 'structured': result.structured_content}


async def main(argv: list[str]) -> dict:
    mode = argv[0]
    if mode == 'stdio':
        server = StdioServerParameters(command=argv[1], args=argv[2:], env={k: v for k, v in os.environ.items() if k.startswith('AGENTMESH_') and not k.startswith('AGENTMESH_PY_')})
    else:
        server = argv[1]
    agents = int(os.environ.get('AGENTMESH_PY_AGENTS', '1'))
    out: dict = {'mode': mode, 'errors': {}}

    async def step(name: str, coro):
        try:
            return await asyncio.wait_for(coro, STEP_S)
        except Exception as err:  # noqa: BLE001: every failure is reported, by step
            out['errors'][name] = f'{type(err).__name__}: {err} | {traceback.format_exc(limit=3)}'
            return None

    async with Client(server, read_timeout_seconds=STEP_S) as client:
        out['server'] = client.server_info.name if getattr(client, 'server_info', None) is not None else None

        async def tools():
            listed = await client.list_tools()
            out['tools'] = sorted(t.name for t in listed.tools)
            cc = next(t for t in listed.tools if t.name == 'call_command')
            out['call_command_required'] = sorted(cc.input_schema.get('required', []))
        await step('tools', tools())

        # The MCP node joins the mesh as it starts: its view fills within a few seconds.
        async def seen():
            while True:
                r = structured(await client.call_tool('list_agents', {}))
                names = sorted(a['name'] for a in (r['structured'] or {}).get('agents', []))
                if len(names) >= agents:
                    out['agents'] = names
                    return
                await asyncio.sleep(0.5)
        await step('agents', seen())

        async def commands():
            out['square'] = structured(await client.call_tool('call_command', {'agent': 'n2' if agents > 1 else 'n0', 'command': 'square', 'payload': {'n': 12}}))
            out['unknown_command'] = structured(await client.call_tool('call_command', {'command': 'cube', 'payload': {}, 'agent': 'n0'}))
        await step('commands', commands())

        async def task():
            out['task'] = structured(await client.call_tool('submit_task', {'tasks': [{'type': 'add', 'metadata': {'add': 3}}], 'wait_ms': 20_000}))
        await step('task', task())

        async def resources():
            listed = await client.list_resources()
            out['resources'] = sorted(str(r.uri) for r in listed.resources)
            read = await client.read_resource('agentmesh://mesh')
            content = read.contents[0]
            out['mesh_resource'] = {'uri': str(content.uri), 'mime_type': content.mime_type, 'json': json.loads(content.text)}
        await step('resources', resources())
    return out


if __name__ == '__main__':
    print(json.dumps(asyncio.run(main(sys.argv[1:]))))
