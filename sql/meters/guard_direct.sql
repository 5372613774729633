NOT (v_sub IS NULL
              AND pg_catalog.current_setting('role') = 'none'
              AND NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '') IS NULL
              AND NULLIF(pg_catalog.current_setting('request.jwt.claim.role', true), '') IS NULL)
