"""短信网关 (SMS gateway): the 双告知 notices (到龄提醒, 待遇告知) and the 联络员 alerts, over the signed REST
gateway."""
