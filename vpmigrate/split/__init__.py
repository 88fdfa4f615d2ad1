"""Split the monolithic compose file into profile-scoped files, round-trip.

`profiles.set_service_profiles` is the reusable edit (also used by clean-up);
`service.plan_split` / `service.apply_split` drive `inv compose.split`.
"""
