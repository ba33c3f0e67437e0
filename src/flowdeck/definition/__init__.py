"""The definition language (DESIGN §4): what a workflow's definition may say, and how it
is checked and evaluated — the models of the document and its steps (`document`,
`steps_schema`), validation with JSON paths (`checks`, `shape`, `issues`), expressions
and the bounded sandbox they run in (`expressions`, `sandbox`, `limits`, `values`),
durations and cron (`durations`).

It imports nothing of the runtime (`flowdeck.engine`), the database or the web: the
catalog, the workflows, the config and the engine all read definitions through it.
"""
