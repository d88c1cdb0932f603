-- bench/identity.sh: each Last.fm track, the Spotify tracks it met, its
-- near misses; then the counts.
CREATE TEMP VIEW r AS
WITH lf AS (SELECT DISTINCT track_key, track_name, artist, canon
            FROM trends_v WHERE platform = 'lastfm'),
     sp AS (SELECT DISTINCT track_key, track_name, artist, canon
            FROM trends_v WHERE platform = 'spotify')
SELECT lf.track_name, lf.artist,
       (SELECT string_agg(DISTINCT sp.track_name || ' / ' || sp.artist, '; ')
        FROM sp WHERE sp.canon = lf.canon) AS met,
       (SELECT string_agg(DISTINCT sp.track_name || ' / ' || sp.artist, '; ')
        FROM sp WHERE sp.canon <> lf.canon
        AND lower(sp.track_name) LIKE
            lower(split_part(lf.track_name, ' (', 1)) || '%'
        AND strpos(lower(sp.artist), lower(lf.artist)) > 0) AS near
FROM lf;
SELECT * FROM r ORDER BY met IS NULL, track_name;
SELECT count(*) AS lastfm_tracks, count(met) AS met,
       count(*) - count(met) AS not_met,
       count(near) AS with_a_near_miss FROM r;
