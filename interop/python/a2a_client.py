"""The gateway's A2A binding driven by the A2A Python SDK (a2a-sdk), as a Python user would.

    a2a_client.py <gateway URL> [JSONRPC|HTTP+JSON]

Against a mesh where some agent answers the command `square` and runs tasks of the types `add`
(its metadata's `add` plus its inputs) and `slow` (runs until cancelled), it: resolves the agent
card; sends a message that calls `square` (answered with a message); sends a two-task pipeline
and streams its updates to the end; submits a `slow` task without waiting, follows it with a
subscription, cancels it and reads how the subscription ends; asks for a task that does not
exist. It prints one JSON object with what it saw, which test/interop/python-a2a.test.ts checks.
A step that fails is recorded under "errors" (and the script goes on), so the test says which.
"""
import asyncio
import json
import sys
import traceback

import httpx
from google.protobuf.json_format import MessageToDict

from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.helpers.proto_helpers import get_data_parts, new_data_message
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    SubscribeToTaskRequest,
    TaskState,
)

# A whole step's deadline: the test has its own, this one says which step hung.
STEP_S = 30


def state_name(state: int) -> str:
    return TaskState.Name(state)


def event_of(e) -> dict:
    """A stream event as a small record: its kind, and the state, task or data it carries."""
    kind = e.WhichOneof('payload')
    if kind == 'task':
        return {'kind': 'task', 'id': e.task.id, 'state': state_name(e.task.status.state)}
    if kind == 'status_update':
        return {'kind': 'status_update', 'task_id': e.status_update.task_id, 'state': state_name(e.status_update.status.state)}
    if kind == 'artifact_update':
        return {'kind': 'artifact_update', 'task_id': e.artifact_update.task_id, 'name': e.artifact_update.artifact.name, 'data': get_data_parts(e.artifact_update.artifact.parts)}
    if kind == 'message':
        return {'kind': 'message', 'data': get_data_parts(e.message.parts)}
    return {'kind': str(kind)}


def request(data, *, return_immediately: bool = False, context_id: str | None = None) -> SendMessageRequest:
    return SendMessageRequest(
        message=new_data_message(data, role=Role.ROLE_USER, context_id=context_id),
        configuration=SendMessageConfiguration(return_immediately=return_immediately),
    )


async def main(url: str, binding: str) -> dict:
    out: dict = {'binding': binding, 'errors': {}}

    async def step(name: str, coro):
        try:
            return await asyncio.wait_for(coro, STEP_S)
        except Exception as err:  # noqa: BLE001: every failure is reported, by step
            out['errors'][name] = f'{type(err).__name__}: {err} | {traceback.format_exc(limit=3)}'
            return None

    async with httpx.AsyncClient(timeout=STEP_S) as http:
        # The card, through the SDK's resolver (which parses it into its AgentCard type).
        card = await A2ACardResolver(http, url).get_agent_card()
        out['card'] = {
            'name': card.name,
            'skills': [s.id for s in card.skills],
            'interfaces': [[i.protocol_binding, i.protocol_version, i.url] for i in card.supported_interfaces],
            'streaming': card.capabilities.streaming,
        }

        streaming = ClientFactory(ClientConfig(httpx_client=http, supported_protocol_bindings=[binding])).create(card)
        polling = ClientFactory(ClientConfig(httpx_client=http, streaming=False, supported_protocol_bindings=[binding])).create(card)

        # A command: the data part names it; the answer is a message whose data part is the result.
        async def command():
            events = [e async for e in polling.send_message(request({'command': 'square', 'payload': {'n': 7}}))]
            m = events[0].message
            out['command'] = {
                'events': [event_of(e) for e in events],
                'result': get_data_parts(m.parts),
                'agentmesh': MessageToDict(m.metadata).get('agentmesh', {}),
            }
        await step('command', command())

        # A pipeline streamed: the task, its changes, the result as an artifact, then COMPLETED.
        async def pipeline():
            # Ids of this run's own: the test runs the script once per binding against one mesh.
            tag = 'rest' if binding == 'HTTP+JSON' else 'rpc'
            first, last = f'py-{tag}-1', f'py-{tag}-2'
            tasks = [
                {'task_id': first, 'type': 'add', 'metadata': {'add': 1}},
                {'task_id': last, 'type': 'add', 'dependencies': [first], 'metadata': {'add': 10}},
            ]
            events = [event_of(e) async for e in streaming.send_message(request({'tasks': tasks}, context_id=f'py-context-{tag}'))]
            got = await polling.get_task(GetTaskRequest(id=last))
            out['stream'] = {'events': events, 'get_task': {'state': state_name(got.status.state), 'context_id': got.context_id, 'artifacts': [get_data_parts(a.parts) for a in got.artifacts]}}
        await step('stream', pipeline())

        # A task submitted without waiting, followed, then cancelled: the subscription ends CANCELED.
        async def cancel():
            first = [e async for e in polling.send_message(request({'type': 'slow'}, return_immediately=True))]
            task_id = first[0].task.id
            states = [state_name(first[0].task.status.state)]
            while states[-1] != 'TASK_STATE_WORKING':
                await asyncio.sleep(0.2)
                states.append(state_name((await polling.get_task(GetTaskRequest(id=task_id))).status.state))
            followed: list = []
            subscribed = asyncio.Event()

            async def follow():
                async for e in streaming.subscribe(SubscribeToTaskRequest(id=task_id)):
                    followed.append(event_of(e))
                    subscribed.set()
            follower = asyncio.create_task(follow())
            await asyncio.wait_for(subscribed.wait(), STEP_S)
            cancelled = await polling.cancel_task(CancelTaskRequest(id=task_id))
            await asyncio.wait_for(follower, STEP_S)
            out['cancel'] = {'task_id': task_id, 'polled': [states[0], states[-1]], 'cancel_answer': state_name(cancelled.status.state), 'followed': followed}
        await step('cancel', cancel())

        # A task nobody sent: the SDK's error for it.
        async def unknown():
            try:
                await polling.get_task(GetTaskRequest(id='no-such-task'))
                out['unknown_task'] = 'no error'
            except Exception as err:  # noqa: BLE001: the error's type is what is reported
                out['unknown_task'] = type(err).__name__
        await step('unknown_task', unknown())

        await streaming.close()
        await polling.close()
    return out


if __name__ == '__main__':
    result = asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else 'JSONRPC'))
    print(json.dumps(result))
