"""Railway variables through Railway's public GraphQL API.

desired   the desired-state file (env/railway.yml): parsing and local interpolation
template  the ${...} value syntax of that file
secrets   which values are secret, and the fingerprints shown instead of them
settings  endpoint, token and project from the environment or `.env`
transport one GraphQL request over httpx, with bounded retries
api       the typed operations the tasks use (and the documents they send)
target    environment and service names to IDs, with suggestions for unknown names
plan      desired vs. current: a pure diff, rendered as table or JSON
apply     writes a plan, redeploys, reads back and verifies
provision creates mlflow-service when it is missing
"""
