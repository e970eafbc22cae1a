from wsapp import login_required
from wsapp.routing import path


@login_required  # by session, wsapp token or API key
async def feed(ws):
    await ws.accept()
    await ws.send_json({"user": ws.user.get_username(), "via": ws.scope.get("auth_method")})


urlpatterns = [path("ws/feed/", feed, name="feed")]
