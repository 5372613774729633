v_sub := COALESCE(NULLIF(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
                    NULLIF(pg_catalog.current_setting('request.jwt.claims', true), '')::pg_catalog.json ->> 'sub');
