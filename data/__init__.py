"""The sample webinar and its registrants, shipped inside the package as `webinar_ops.sample`
so that an installed webinar-ops can hand them out (`webinar-ops sample DIR`)."""
