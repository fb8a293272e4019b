/**
 * zod's `z.locales` in a browser bundle: English only. zod's own index of locales holds some forty
 * languages (260 KiB of a 1.4 MiB minified bundle) for `z.config(z.locales.xx())`, which agentmesh
 * never calls: its messages are English, which zod registers by itself.
 */
export { default as en } from 'zod/v4/locales/en.js'
