/**
 * The live page's stylesheet (surfaces/debug/page.ts puts it in the page's head).
 *
 * The tables under the graph are a grid of columns at least 400 px wide, as many as fit: a
 * generated task id (a UUID, some 240 px) stays on one line beside its state, agent and time, and
 * the gossip's sparklines (in above out) fit their column; any other cell's text (a topic, an
 * agent's short id, a dead letter's subject) breaks where it must rather than widen its table. In a row of four equal columns (the
 * flex row this was) each got 230 px at 1400×900, and the gossip's sparklines were drawn over
 * the recent tasks (issue 44). A section narrower than its table (a window under 700 px) scrolls
 * across inside itself rather than spill into the next. test/surfaces/debug/live-page-layout.test.ts
 * checks the boxes at 1280×720 to 1920×1080.
 */
export const PAGE_STYLE = /* css */ `
  :root { --bg:#0f1419; --panel:#171d24; --line:#2b3642; --text:#d7dde4; --dim:#7d8a97; --accent:#4cc2ff; --ok:#5bd17a; --warn:#ffb454; --gossip:#c792ea; --bad:#ff6b6b; }
  * { box-sizing: border-box } body { margin:0; background:var(--bg); color:var(--text); font:14px/1.4 system-ui, sans-serif; display:flex; flex-direction:column; height:100vh }
  header { display:flex; gap:16px; align-items:center; padding:10px 16px; border-bottom:1px solid var(--line) }
  header h1 { font-size:16px; margin:0 } header .dim { color:var(--dim) } #live { width:9px; height:9px; border-radius:50%; background:var(--warn); display:inline-block }
  #mesh-rates { margin-left:auto; display:flex; gap:12px; align-items:center; color:var(--dim); font-size:12px }
  main { flex:1; display:flex; min-height:0 } #left { flex:1; min-width:0; display:flex; flex-direction:column } #graph { flex:1; min-height:0 }
  #tables { display:grid; grid-template-columns:repeat(auto-fit, minmax(min(100%, 400px), 1fr)); grid-auto-rows:max-content; gap:12px 16px; align-items:start; align-content:start; max-height:36vh; overflow:auto; padding:10px 16px; border-top:1px solid var(--line) }
  #tables section { min-width:0; overflow-x:auto } #tables td { overflow-wrap:anywhere } #tasks td.id { white-space:nowrap } td.sparks svg.spark { display:block; margin:1px 0 }
  aside { width:400px; background:var(--panel); border-left:1px solid var(--line); display:flex; flex-direction:column; min-height:0 }
  #agents { padding:12px 14px 8px; border-bottom:1px solid var(--line); max-height:58%; display:flex; flex-direction:column; min-height:0 }
  #agent-rows { overflow:auto; min-height:0 } #panel { padding:14px; overflow:auto; flex:1 }
  #search { width:100%; background:var(--bg); color:var(--text); border:1px solid var(--line); border-radius:4px; padding:5px 8px; margin:0 0 6px }
  #filter { font-size:12px; margin-bottom:4px } #filter button, #pager button { background:none; color:var(--accent); border:1px solid var(--line); border-radius:4px; cursor:pointer; font-size:12px }
  #pager { display:flex; gap:8px; align-items:center; justify-content:flex-end; font-size:12px; color:var(--dim); padding-top:4px }
  #agent-list tr { cursor:pointer } #agent-list tr.selected td { background:#24425a } #agent-list tr:hover td { background:#1d2630 }
  svg#svg { width:100%; height:100% } .edge { stroke:#3a4a5a } .edge.hot { stroke:var(--accent); transition:stroke .1s } .edge.gossip { stroke:var(--gossip); transition:stroke .1s }
  .agent circle { fill:#1f2a36; stroke:var(--accent); stroke-width:2; cursor:pointer } .agent.self circle { stroke:var(--ok) } .agent.coordinator circle { stroke:gold; stroke-width:4 } .agent text.crown { fill:gold; font-size:16px }
  .agent.selected circle { fill:#24425a; stroke-width:4 } .agent text { fill:var(--text); text-anchor:middle; font-size:12px; pointer-events:none } .agent text.roles { fill:var(--dim); font-size:10px }
  .agent.dot circle { stroke-width:1.5 } .agent.match circle { stroke:var(--warn); stroke-width:3 }
  .group circle { fill:#1a2530; stroke:var(--gossip); stroke-width:2; cursor:pointer } .group.open circle { fill:#141b22; stroke-dasharray:4 3 } .group text { fill:var(--text); text-anchor:middle; font-size:12px; pointer-events:none }
  .group text.count { font-size:16px; font-weight:600 } .group text.sub { fill:var(--dim); font-size:10px } .group text.stale { fill:var(--warn); font-size:10px }
  .group-link { stroke:#3a4a5a } .link-label { fill:var(--dim); font-size:10px; text-anchor:middle }
  .rate { fill:var(--dim); font-size:10px; text-anchor:middle } h2 { font-size:14px; margin:0 0 8px } dl { display:grid; grid-template-columns:90px 1fr; gap:4px 8px; margin:0 0 12px } dt { color:var(--dim) } dd { margin:0; word-break:break-all }
  table { width:100%; border-collapse:collapse; font-size:12px } td, th { padding:3px 4px; border-bottom:1px solid var(--line); vertical-align:top; text-align:left } th { color:var(--dim); font-weight:normal }
  .in { color:var(--ok) } .out { color:var(--accent) } td.num, th.num { text-align:right; font-variant-numeric:tabular-nums } tr.internal td { color:var(--dim) } .who { border-bottom:1px dotted var(--dim) }
  .completed { color:var(--ok) } .failed, .cancelled { color:var(--bad) } .running, .assigned { color:var(--accent) } .paused, .submitted { color:var(--warn) } .dim { color:var(--dim) }
  svg.spark { vertical-align:middle; overflow:visible } svg.spark polyline { fill:none; stroke-width:1.2 } svg.spark.msgs polyline { stroke:var(--gossip) } svg.spark.tasks polyline { stroke:var(--ok) }
  svg.spark.in polyline { stroke:var(--ok) } svg.spark.out polyline { stroke:var(--accent) } svg.spark line { stroke:var(--line) }
`
