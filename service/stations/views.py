from flask_smorest import Blueprint

blp = Blueprint("stations", __name__, url_prefix="/api/v1")
