"""Split the monolithic compose file into profile-scoped files, round-trip.

`profiles.set_service_profiles` is the reusable edit (also used by clean-up);
`outputs.plan_split` / `outputs.apply_split` drive `inv compose.split`.
"""
