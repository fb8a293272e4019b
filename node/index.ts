/**
 * agentmesh's runtime: the node and the protocols' public types. The package's entry is
 * surfaces/index.ts, which exports all of this with a createAgentNode that also attaches the
 * surfaces the config asks for (the debug endpoint, the gateway); this one's creates the node alone.
 *
 *   const node = await createAgentNode({ name: 'a1', listen: ['/ip4/127.0.0.1/tcp/0'] })
 *   await node.start()
 *   node.handle('echo', (req) => req)
 *   for await (const msg of node.subscribe('events')) console.log(msg.payload)
 */
import './polyfills.js'

export { AgentNode, type AgentNodeEvents, type CreateAgentNodeOptions, type Health, type HandleOptions } from './agent-node.js'
export { createAgentNode } from './create-node.js'
export type { Allow } from './types.js'
export { ConfigSchema, parseConfig, loadConfig, configKeys, presets, PRESET_NAMES, type AgentConfig, type AgentConfigInput, type Preset, type PresetName } from './config.js'
export { loadOrCreateIdentity, freshIdentity, type Identity } from './identity.js'
export * from '../protocols/core/errors.js'
export { DeliveryFailedError, TopicDeliveryError, type TopicDeliveryFailure } from '../protocols/delivery/errors.js'
export { Stats } from './stats.js'
export { AGENTMESH_VERSION } from '../protocols/core/version.js'
export { defineCommand, type Command, type Handler, type HandlerContext, type RequestOptions, type SendResult, RPC_PROTOCOL } from '../protocols/rpc/index.js'
export { defineTopic, type Topic, type Message, Subscription, type PublishOptions } from '../protocols/pubsub/index.js'
export { Envelope, MessageType, Priority, Destination, makeEnvelope, encodeEnvelope, decodeEnvelope } from '../protocols/envelope/index.js'
export { AgentCard } from '../protocols/discovery/card.js'
export { TaskHandle, TaskFailedError, TaskStopped, type TaskContext, type TaskMessage, type TaskSpecInput, type TaskStatus, type TaskState } from '../protocols/task/index.js'
export type { PeerInfo, AgentQuery } from '../protocols/discovery/membership.js'
export { ResourceStatus, type AllocateAnswer, type AllocateRequest, type Allocation, type ResourceItem } from '../protocols/resource/index.js'
export { NEGOTIATE_PROTOCOL, type Cfp, type ContractNetOptions, type ContractNetResult, type Agreement, type Respond, type Response, type Participant, type NegotiationEvent } from '../protocols/negotiation/index.js'
export { MetricReport, Alert, Severity, alertTopic, METRICS_TOPIC, type AlertInput } from '../protocols/monitoring/index.js'
export { ModelUpdate, LearningMetrics, LEARNING_PROTOCOL, MODEL_UPDATE_TOPIC, LEARNING_METRICS_TOPIC, type ModelVersion, type ApplyModel } from '../protocols/learning/index.js'
export type { EncryptFor } from '../protocols/sealing/index.js'
