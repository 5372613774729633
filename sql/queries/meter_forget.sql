-- Forgets a mapped meter whose objects its revert removed.
DELETE FROM quota.meters WHERE meter = $1
