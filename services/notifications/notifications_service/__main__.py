import sys

from notifications_service.main import main

sys.exit(main())
