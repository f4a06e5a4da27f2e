import sys

from users_service.main import main

sys.exit(main())
