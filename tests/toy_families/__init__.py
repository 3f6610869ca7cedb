"""Families that live outside jaxgan, as a user's own would: registered by module path
(`config.family = "toy_families.translation"`) and trained, resumed, scored and sampled by the
unchanged jaxgan commands."""
