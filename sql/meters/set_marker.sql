,
         {marker} = GREATEST({alias}.{marker}, {period})
