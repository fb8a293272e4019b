/**
 * `node:path` in a browser bundle: only the audit log's file imports it (`dirname`), a setting
 * the browser entry refuses; called anyway, it throws CFG001.
 */
import { unavailable } from './unavailable.js'

export const dirname = unavailable('node:path', 'dirname')
