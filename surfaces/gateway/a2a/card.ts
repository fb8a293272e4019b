/**
 * The A2A agent card the gateway serves at /.well-known/agent-card.json: the mesh as one A2A
 * agent whose skills are the mesh's task types and commands.
 *
 * How the gateway learns them: an agent that offers a task type or a command says so among the
 * capabilities of its card, as `task:<type>` or `command:<name>` (`capabilities:
 * ['task:summarize', 'command:square']`); the gateway reads the cards of the agents it sees
 * (so the card follows the mesh as agents come and go), and adds the skills it was given
 * (`skills` in the mount's options, with zod schemas). Two skills are always there: `mesh.tasks`
 * (a task of any type, or a pipeline) and `mesh.command` (any command on a named agent).
 *
 * A2A 1.0's AgentSkill has no field for a schema, so each skill's JSON Schema (of the message's
 * data part, from the zod schemas the mesh validates with) is in the card's extension
 * `SCHEMA_EXTENSION` (capabilities.extensions[].params.skills[skill id]); clients that do not
 * know the extension lose nothing (it is not required).
 */
import { z } from 'zod'
import type { AgentCard, AgentSkill } from '@a2a-js/sdk'
import { AGENTMESH_VERSION } from '../../../protocols/core/version.js'
import type { MeshOperations } from '../../operations/index.js'
import { AgentRef, RequestInput, SubmitInput, TaskInput } from '../../operations/schemas.js'
import type { A2aSkill } from './constants.js'

/** The card extension that carries each skill's JSON Schema. */
export const SCHEMA_EXTENSION = 'urn:agentmesh:a2a:skill-schemas:v1'
const MODES = ['application/json', 'text/plain']
const MAX_SKILLS = 256

export interface CardInput {
  ops: MeshOperations
  /** The URL clients reach the gateway at. */
  baseUrl: string
  path: string
  name?: string
  description?: string
  skills: A2aSkill[]
}

/** The data part a message to a task skill carries: a task of that type (metadata per its schema, if known). */
function taskData (type: string, input?: z.ZodType): z.ZodType {
  return TaskInput.extend({ type: z.literal(type), ...(input !== undefined ? { metadata: input } : {}) })
}

/** The data part a message to a command skill carries: the command, its payload, and the agent (any that offers it, if left out). */
function commandData (name: string, input?: z.ZodType): z.ZodType {
  return RequestInput.extend({ command: z.literal(name), agent: AgentRef.optional(), payload: input ?? z.unknown() })
}

function jsonSchema (schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>
  return rest
}

function skill (id: string, name: string, description: string, tags: string[], example: unknown): AgentSkill {
  return { id, name, description, tags, examples: [JSON.stringify(example)], inputModes: MODES, outputModes: MODES, securityRequirements: [] }
}

/** The skills: the two generic ones, those given, and those agents' cards name (each once, given ones first). */
export function skillsOf (input: CardInput): { skills: AgentSkill[], schemas: Record<string, unknown> } {
  const skills: AgentSkill[] = [
    skill('mesh.tasks', 'Run tasks on the mesh', 'A data part {"type": ..., "metadata": {...}} submits one task; {"tasks": [...]} a pipeline whose dependencies name each other\'s task_id. The A2A task is the (last) mesh task; its result is the artifact "result".', ['task', 'pipeline'], { type: 'summarize', metadata: { text: '...' } }),
    skill('mesh.command', 'Call a command on an agent', 'A data part {"command": ..., "agent": <peer id or name>, "payload": ...} calls the command and answers with a message whose data part is its result.', ['command'], { command: 'square', agent: 'n2', payload: { n: 12 } })
  ]
  const schemas: Record<string, unknown> = {
    'mesh.tasks': { input: jsonSchema(z.union([TaskInput, SubmitInput]), 'input') },
    'mesh.command': { input: jsonSchema(RequestInput, 'input') }
  }
  const seen = new Set<string>()
  const add = (s: A2aSkill, offeredBy: string[]): void => {
    const id = `${s.kind}:${s.name}`
    if (seen.has(id) || seen.size >= MAX_SKILLS) return
    seen.add(id)
    const by = offeredBy.length > 0 ? ` Offered by ${offeredBy.slice(0, 5).join(', ')}${offeredBy.length > 5 ? ` and ${offeredBy.length - 5} more` : ''}.` : ''
    if (s.kind === 'task') {
      skills.push(skill(id, s.name, `${s.description ?? `Run a task of type "${s.name}".`} Data part: {"type": "${s.name}", "metadata": {...}}.${by}`, s.tags ?? ['task'], { type: s.name, metadata: {} }))
      schemas[id] = { input: jsonSchema(taskData(s.name, s.input), 'input'), ...(s.output !== undefined ? { output: jsonSchema(s.output, 'output') } : {}) }
    } else {
      skills.push(skill(id, s.name, `${s.description ?? `Call the command "${s.name}".`} Data part: {"command": "${s.name}", "payload": ...}; "agent" picks one, else any that offers it.${by}`, s.tags ?? ['command'], { command: s.name, payload: {} }))
      schemas[id] = { input: jsonSchema(commandData(s.name, s.input), 'input'), ...(s.output !== undefined ? { output: jsonSchema(s.output, 'output') } : {}) }
    }
  }
  const offered = new Map<string, string[]>()
  for (const a of input.ops.agents()) {
    for (const c of a.capabilities) {
      if (!/^(task|command):./.test(c)) continue
      offered.set(c, [...(offered.get(c) ?? []), a.name])
    }
  }
  for (const s of input.skills) add(s, offered.get(`${s.kind}:${s.name}`) ?? [])
  for (const [c, by] of [...offered].sort(([a], [b]) => a.localeCompare(b))) {
    const i = c.indexOf(':')
    add({ kind: c.slice(0, i) as 'task' | 'command', name: c.slice(i + 1) }, by)
  }
  return { skills, schemas }
}

/**
 * The card, built again only when what it says changes (the gateway's URL, the task types and
 * commands the agents offer): every A2A call checks its version against the card, and a card's
 * schemas cost a z.toJSONSchema per skill.
 */
export class CardCache {
  private key = ''
  private card?: AgentCard

  get (input: CardInput): AgentCard {
    const offered = input.ops.agents().flatMap(a => a.capabilities.filter(c => /^(task|command):./.test(c)).map(c => `${c}@${a.name}`)).sort()
    const key = `${input.baseUrl}\n${offered.join('\n')}`
    if (this.card === undefined || key !== this.key) {
      this.card = buildCard(input)
      this.key = key
    }
    return this.card
  }
}

export function buildCard (input: CardInput): AgentCard {
  const self = input.ops.node
  const url = input.baseUrl + input.path
  const { skills, schemas } = skillsOf(input)
  return {
    name: input.name ?? `agentmesh gateway on ${self.name}`,
    description: input.description ?? `The agentmesh mesh "${self.card().mesh}" as an A2A agent: tasks and pipelines run by its agents, and commands answered by them.`,
    supportedInterfaces: [
      { url, protocolBinding: 'JSONRPC', protocolVersion: '1.0', tenant: '' },
      { url, protocolBinding: 'HTTP+JSON', protocolVersion: '1.0', tenant: '' }
    ],
    provider: undefined,
    version: AGENTMESH_VERSION,
    capabilities: {
      streaming: true,
      pushNotifications: false,
      extendedAgentCard: false,
      extensions: [{ uri: SCHEMA_EXTENSION, description: 'The JSON Schema of each skill\'s data part (params.skills[skill id].input), and of its result where known (.output).', required: false, params: { skills: schemas } }]
    },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: MODES,
    defaultOutputModes: MODES,
    skills,
    signatures: []
  }
}
