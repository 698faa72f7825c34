"""Background jobs: one thin module per job, each selecting what is due and calling the library."""
