"""Parse's query language: `where` parsed once (`ast`), evaluated in SQL (`sql`) or in memory (`match`)."""
