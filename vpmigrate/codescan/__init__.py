"""Which compose services the application code uses: evidence, verdicts, retirement.

`scan.audit` walks the code (honouring .gitignore), selects files with a cheap literal
prefilter, parses only those (Python and JS/TS with regex lexers,
manifests, env files, documents) and turns what it finds into `Evidence`;
`verdict.decide` adds reachability through the compose file and gives each service
a verdict; `retire` moves unused services to `profiles: [future]` and removes their
containers (and, on request, their volumes after a backup).
"""
