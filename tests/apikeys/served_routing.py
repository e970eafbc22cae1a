"""What the example's server routes: README's ``feed``, and the auth tests' routes beside it (an
open ``whoami`` that shows the credential as the handler received it, a ``login_required`` one)."""

from tests import routing_auth
from tests.apikeys import routing

urlpatterns = [*routing.urlpatterns, *routing_auth.urlpatterns]
