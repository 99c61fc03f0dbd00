from nesbench.cli import main

raise SystemExit(main())
