"""Runtime: fetch, verify and extract a bundle, then serve it over HTTP."""
