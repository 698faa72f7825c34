from webinar_ops.cli import main

main()
