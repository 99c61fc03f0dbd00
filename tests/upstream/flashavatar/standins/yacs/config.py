import copy


class CfgNode(dict):
    """Stand-in (tests only): attribute access and clone(), all FlashAvatar's mica_flame_config uses."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value

    def clone(self):
        return copy.deepcopy(self)
