from esimdesk.cli.main import main

raise SystemExit(main())
