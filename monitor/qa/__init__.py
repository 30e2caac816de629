"""Customer-service chat QA (客服质检): a deterministic sample of conversations, scored 0–100.

Pure core, like the rest of the package: `conversations` validates a conversation record,
`sampling` decides which are scored, `scoring` takes points off with a reason and the turn
for each, `masking` hides phone numbers, ID-card numbers, addresses and order numbers in
everything kept or shown, `report` writes the weekly per-agent report. The CLI
(`guanchao qa`) and, later, the stream are thin shells around it.
"""
