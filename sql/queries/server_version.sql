-- The throwaway server's version, as `quota sandbox` reports it.
SELECT version()
