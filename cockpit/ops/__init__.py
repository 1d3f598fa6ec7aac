"""Operations: each change as a record with an id that outlives the key press that started it
(its intent, when it was applied, the steps of its watch, its outcome), read back from the audit
log across processes and followed live within one."""
