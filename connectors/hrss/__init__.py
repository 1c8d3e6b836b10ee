"""HRSS (人力资源和社会保障局): the source. Approved retirement applications arrive through its 前置库."""
