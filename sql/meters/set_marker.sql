,
         {marker} = GREATEST({alias}.{marker}, v_period)
