"""Change planning: which branches a run has (:mod:`.targets`) and which of a branch's messages
go to Amazon at all (:mod:`.plan`)."""
