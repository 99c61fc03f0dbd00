import logging

logger = logging.getLogger("loguru-standin")
